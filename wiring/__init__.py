"""wiring: process assembly, above every service. Each process (`web`, `bridge`, `broker`,
`up`) is built here from Settings: the engine, MQTT connections, Redis clients, rate limiter,
caches and clock are opened once, each choice logged, and passed to the services, which open
nothing themselves. The command line (wiring.cli) lives here too. Nothing imports wiring."""
