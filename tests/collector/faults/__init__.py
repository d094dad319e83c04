"""The collector's fault tests: ingest replicas as real processes, real mosquitto and influxd.

InfluxDB down for a minute, replicas SIGKILLed while agents publish, and ten thousand hostile
messages among valid traffic: nothing valid lost or stored twice, nothing hostile let through.
"""
