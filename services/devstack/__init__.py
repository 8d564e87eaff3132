"""``make run``: the whole local stack in the foreground."""
