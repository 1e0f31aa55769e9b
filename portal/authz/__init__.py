"""The one permission catalogue and the one policy: every "may this user do X" goes through here."""
