"""SDK quickstart: create versions, read the latest, render, roll back.

Run it in an empty folder: python examples/quickstart.py
"""

from promptgear import PromptManager

with PromptManager() as pm:  # filesystem store at ./prompts unless configured otherwise
    pm.create_prompt(
        "support",
        "v1",
        system_prompt="You are a patient support agent.\nAnswer in {{language}}.",
        user_prompt="Customer: {{message}}",
        config={"model": "gpt-4o-mini", "temperature": 0.3},
    )
    pm.create_prompt("support", "v2", "You are a concise support agent.\nAnswer in {{language}}.",
                     "Customer: {{message}}", config={"model": "gpt-4o-mini", "temperature": 0.2})

    latest = pm.get_prompt("support")
    print(f"latest: {latest.version} (sequence {latest.sequence_number})")
    print("variables:", ", ".join(latest.variables))

    rendered = latest.render(language="French", message="My order is late.")
    print(rendered.user_prompt)

    pm.promote_prompt("support", "v1")  # roll back
    print("after rollback:", pm.get_prompt("support").version)
    print("versions:", pm.list_versions("support"))
