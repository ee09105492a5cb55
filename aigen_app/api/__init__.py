"""The REST API (Django REST framework): generations, refinements, conversations and
media assets, each visible to its owner only.

Mount it with ``path("api/", include("aigen_app.api.urls"))``. The viewsets carry their
own exception handler, pagination, filters and create throttle, so they behave the same
whatever the host project's ``REST_FRAMEWORK`` says; authentication is the project's.
"""
