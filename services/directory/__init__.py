"""The directory file (tenants, users, devices) and its import into Redis.

One job per module: ``model`` (an entry's rules), ``load`` (reading and
validating a file), ``state`` (what Redis holds), ``plan`` (the difference,
as steps), ``digest`` (the keyed PIN digests that spare a re-import
argon2), ``hashing`` (is a PIN unchanged; argon2 off the event loop),
``apply`` (ending sessions, queueing the writes) and ``importer`` (one
transaction, retried on concurrent changes).
"""
