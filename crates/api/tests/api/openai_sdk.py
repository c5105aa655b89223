"""The official `openai` Python SDK against a running chat-api (driven by `python_sdk.rs`).

Reads the server and keys from the environment, exercises what the SDK's users do, and prints
one JSON object with what it saw, for the Rust test to check against the server's own records.
Any mismatch raises, so the script exits non-zero with a traceback.
"""

import json
import os

import openai
from openai import OpenAI

base_url = os.environ["CHAT_API_BASE_URL"] + "/v1"


def client(key):
    # No retries: every answer below is final, and a retry would hide a wrong status.
    return OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)


live = client(os.environ["CHAT_API_KEY"])
seen = {}

seen["models"] = [model.id for model in live.models.list()]

completion = live.chat.completions.create(
    model=seen["models"][0],
    messages=[
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Hello from the SDK"},
    ],
)
assert completion.object == "chat.completion", completion
assert completion.choices[0].message.role == "assistant", completion
assert completion.choices[0].finish_reason == "stop", completion
assert completion.usage is not None and completion.usage.total_tokens > 0, completion
seen["completion"] = {
    "id": completion.id,
    "model": completion.model,
    "content": completion.choices[0].message.content,
    "usage": completion.usage.model_dump(),
}

pieces = []
usage = None
chunks = 0
for chunk in live.chat.completions.create(
    model=seen["models"][0],
    messages=[{"role": "user", "content": "Hello from the SDK"}],
    stream=True,
    stream_options={"include_usage": True},
):
    chunks += 1
    assert chunk.object == "chat.completion.chunk", chunk
    if chunk.usage is not None:
        usage = chunk.usage.model_dump()
    for choice in chunk.choices:
        pieces.append(choice.delta.content or "")
seen["stream"] = {"content": "".join(pieces), "chunks": chunks, "usage": usage}

try:
    client(os.environ["CHAT_API_BROKE_KEY"]).chat.completions.create(
        model=seen["models"][0], messages=[{"role": "user", "content": "I cannot pay"}]
    )
    raise AssertionError("an exhausted balance answered")
except openai.APIStatusError as error:
    seen["exhausted"] = {
        "class": type(error).__name__,
        "status": error.status_code,
        "code": error.code,
    }

try:
    client(os.environ["CHAT_API_REVOKED_KEY"]).models.list()
    raise AssertionError("a revoked key was accepted")
except openai.AuthenticationError as error:
    seen["revoked"] = {"status": error.status_code, "code": error.code}

try:
    live.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Wrong model"}]
    )
    raise AssertionError("an unknown model answered")
except openai.NotFoundError as error:
    seen["unknown_model"] = {"status": error.status_code, "code": error.code}

print(json.dumps(seen))
