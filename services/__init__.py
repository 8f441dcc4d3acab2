"""The task domain and the services that react to it.

`services.tasks` is the task service (domain, service layer, REST API);
`services.shared` holds what every service needs (settings, database, auth,
the HTTP app factory). `services.bootstrap` is the composition root.
"""

__all__: list[str] = []
