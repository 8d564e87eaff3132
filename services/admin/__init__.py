"""The admin service: the operators' HTTP API (and, later, the console),
a face over the binding, auth and provision services' gRPC APIs."""
