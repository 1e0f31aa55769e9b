"""Users, identities (unique on issuer + subject), break-glass accounts, server-side sessions, sign-in."""
