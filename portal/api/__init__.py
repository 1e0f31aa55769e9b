"""The ``/api/v1`` JSON adapter (see ``views.py``) and its OpenAPI 3.1 document (``openapi.py``)."""
