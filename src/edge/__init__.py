"""The site runtime of one sorting line: wiring, declaration cache, outbox, hub link."""
