#!/bin/sh
# The registry's two logins, made once: the postgres image runs this on its first start, with
# an empty data volume (/docker-entrypoint-initdb.d; compose.yaml). docs/operations.md, "The
# registry on PostgreSQL", says why there are two:
#   registry_owner  owns the database, so the tables the registry-init step creates in it;
#   collector       logs in for ingest and the web app; registry-init grants it SELECT, INSERT,
#                   UPDATE and DELETE on the tables and nothing more (`registry init --grant`),
#                   so it cannot drop or disable the append-only triggers.
# The passwords come from the service's environment (.env). tests/deploy/test_registry_roles.py
# runs this file against a real PostgreSQL.
set -eu
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v owner_password="$RV_REGISTRY_OWNER_PASSWORD" \
    -v collector_password="$RV_REGISTRY_COLLECTOR_PASSWORD" <<'SQL'
CREATE ROLE registry_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE collector LOGIN PASSWORD :'collector_password';
ALTER DATABASE :"DBNAME" OWNER TO registry_owner;
-- Nobody else connects or creates in it (PostgreSQL 15 already keeps CREATE on public from
-- PUBLIC; stated here so an older server is no different).
REVOKE ALL ON DATABASE :"DBNAME" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"DBNAME" TO registry_owner, collector;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
