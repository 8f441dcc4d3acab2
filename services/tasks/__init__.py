"""The task service: the domain, its service layer and the REST API.

It is the only writer of tasks; every door (REST, MCP, assistant, CLI) calls
`services.tasks.service`.
"""

__all__: list[str] = []
