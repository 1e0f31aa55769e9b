"""The Redis client manager's configuration: which channel it uses and how its listener reads (no server needed)."""

from __future__ import annotations

import pytest

from portal.realtime.manager import PortalRedisManager, channel_for


@pytest.mark.parametrize(
    ("url", "channel"),
    [
        ("redis://127.0.0.1:6379/13", "portal-socketio:db13"),
        ("redis://127.0.0.1:6379", "portal-socketio:db0"),
        ("redis://:secret@redis.internal:6380/2", "portal-socketio:db2"),
        ("unix:///run/redis.sock?db=4", "portal-socketio:db4"),
        ("redis+sentinel://sentinel:26379/mymaster/3", "portal-socketio:db3"),
    ],
)
def test_channel_is_named_after_the_database_index(url, channel):
    """Pub/sub ignores the database index, so portals on different indexes of one Redis need different channels."""
    assert channel_for(url) == channel


def test_listener_has_no_read_timeout_but_publishing_keeps_it():
    """A read timeout on the listener drops the subscription after every quiet spell and loses what is published
    while python-socketio waits to subscribe again (the multi-worker tests in test_live_server.py showed it)."""
    manager = PortalRedisManager("redis://127.0.0.1:6379/13", redis_options={"socket_timeout": 2})
    manager._redis_connect()  # what the listener and the first publish do; creates clients, opens no socket
    try:
        assert manager.channel == "portal-socketio:db13"
        assert manager.redis.connection_pool.connection_kwargs["socket_timeout"] == 2
        listener_options = manager.pubsub.connection_pool.connection_kwargs
        assert listener_options.get("socket_timeout") is None
        assert listener_options["socket_keepalive"] is True
        assert listener_options["db"] == 13
    finally:
        manager.pubsub.close()
        manager.redis.close()
