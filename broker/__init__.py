"""The embedded development broker: amqtt with the project's access control.

`acl` is the pure rule set, `plugins` plugs it into amqtt, `embedded` runs the broker
(in a thread for `livecomments up`, in the foreground for `livecomments broker`).
"""
