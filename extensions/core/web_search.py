"""Search the web through a configured backend (a SearXNG instance's JSON API)."""

import sena

VERSION = "1.0.0"
METADATA = {
    "name": "web_search",
    "description": "search the web and return the top results",
    "author": "Sena",
    "parameters": {
        "query": {"type": "string", "description": "what to search for", "required": True},
    },
    "requires": [],
    "permissions": ["http"],
}


def execute(user_input, context, **kwargs):
    url = sena.setting("url")
    if not url:
        return (
            "Web search is not configured, so I cannot look this up. Set extensions.settings.web_search.url "
            "in config/extensions.yaml to a SearXNG instance, e.g. http://localhost:8888/search."
        )
    query = kwargs.get("query") or user_input
    data = sena.http_get(url, {"q": query, "format": "json"})
    results = data.get("results", []) if isinstance(data, dict) else []
    if not results:
        return f"No web results for {query!r}."
    lines = []
    for result in results[: sena.setting("max_results", 5)]:
        lines.append(f"- {result.get('title', '')} <{result.get('url', '')}>: {result.get('content', '')[:200]}")
    return "\n".join(lines)
