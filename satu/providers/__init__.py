"""Demo provider backends: agencies' own systems that Satu's exchange calls.

Each provider is a separate ASGI application (its own process or server), reachable only
through the exchange: it verifies the gateway's HTTP Message Signature (RFC 9421) on every
request and signs every answer with its own Ed25519 key. Two ship with Satu: Dukcapil's
population register (`population`) and Kemensos' DTKS social-assistance register (`dtks`),
both speaking the GovStack Digital Registries Data API.
"""
