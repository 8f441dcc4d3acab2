"""The task domain and the services that react to it.

`services.tasks` is the task service (domain, service layer, REST API);
`services.shared` holds what every service needs (settings, database, auth,
the unit of work, time zones, the HTTP app factory). `services.bootstrap` and
`services.composition` are the composition root; only the entry points
(`services.app`, `services.cli`, each service's `main`) import them.
"""

__all__: list[str] = []
