"""Binding service: which hot-desk user is on which device.

A transport-agnostic core (``core.py`` + Lua scripts in ``lua/``) served over
gRPC (``grpc_api.py``) and over an HTTP endpoint shaped for Kamailio
(``http_api.py``).
"""
