"""Production gunicorn settings (README, "Deploying for real"): ``gunicorn --config gunicorn.conf.py wsgi:app``.

gunicorn also reads this file on its own when started from this directory. Settings on the command line win.
"""

# gevent-websocket's worker with a small read buffer per connection and an access log without query strings
# (portal/realtime/worker.py).
worker_class = "portal.realtime.worker.PortalWebSocketWorker"

# The access log goes to stdout (journald, or the container's log). Search and filter terms may name a pupil, so a
# line holds the method, the path without the query string (%(U)s, never %(r)s or %(q)s), the protocol, the
# status, the size, the duration in ms and the user agent; no referer (it is a URL with its own query string). The
# worker removes query strings from everything a format can read anyway (docs/logging.md).
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'
