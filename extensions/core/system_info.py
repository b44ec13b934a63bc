"""Report this computer's CPU, memory and disk usage."""

import sena

VERSION = "1.0.0"
METADATA = {
    "name": "system_info",
    "description": "CPU, memory and disk usage of this computer",
    "author": "Sena",
    "parameters": {},
    "requires": [],
    "permissions": ["system"],
}


def execute(user_input, context, **kwargs):
    info = sena.system_info()
    load = ", ".join(str(x) for x in info["load_average"])
    return (
        f"CPU: {info['cpu_count']} cores, {info['cpu_percent']}% busy (load average {load}). "
        f"Memory: {info['memory_available_mb']} MB free of {info['memory_total_mb']} MB "
        f"({info['memory_percent']}% used). "
        f"Disk: {info['disk_free_gb']} GB free of {info['disk_total_gb']} GB ({info['disk_percent']}% used)."
    )
