"""The small shared kernel every service uses: settings, logs, Redis, the
Redis key schema, the ops HTTP server (metrics, health) and gRPC bootstrap."""
