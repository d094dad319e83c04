"""One pipeline from real agents to the offline verifier, with faults and tampers (#17)."""
