"""The OpenAI Responses API (``POST /v1/responses``): requests, responses, streams and errors.

Pure functions and small per-request objects, like every protocol package: :mod:`.request`
decodes a Responses body into the canonical :class:`~bastion.protocols.canonical.ChatRequest`;
:mod:`.response` encodes a canonical answer as a ``response`` object (and decodes one, for a
pass-through answer the cache keeps); :mod:`.stream` writes the event sequence Codex and the SDKs
consume; :mod:`.errors` the error envelope and the in-band failure events; :mod:`.items` turns a
stored response back into input items for ``previous_response_id``; :mod:`.wire` ties them to one
call (its response id and the request fields a response echoes).
"""
