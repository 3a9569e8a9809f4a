"""Talks to the jar with the official openai SDK, as to any model.

python client.py [BASE_URL]      (default http://127.0.0.1:8080/v1)
"""

from __future__ import annotations

import sys

from openai import OpenAI

base_url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080/v1"
question = [{"role": "user", "content": "What is 2 + 3?"}]

with OpenAI(base_url=base_url, api_key="unused") as client:
    print("models:", [m.id for m in client.models.list()])

    # One piece: the jar ran its tool loop on the server; the extra "brainjar"
    # field says which tools it called.
    done = client.chat.completions.create(model="adder", messages=question)
    print("answer:", done.choices[0].message.content)
    for record in (done.model_extra or {}).get("brainjar", {}).get("activity", []):
        print("  tool activity:", record["type"], record["name"])

    # Streamed: the answer arrives as delta.content chunks.
    print("streamed: ", end="")
    with client.chat.completions.create(model="adder", messages=question, stream=True) as stream:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                print(chunk.choices[0].delta.content, end="", flush=True)
    print()
