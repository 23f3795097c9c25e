"""The Gemini Developer API wire protocol (``/v1beta/models/{model}:generateContent`` and friends).

* :mod:`.request`: generateContent bodies to and from the canonical :class:`ChatRequest`;
* :mod:`.response`: GenerateContentResponse bodies to and from :class:`ChatResponse`, and usage;
* :mod:`.stream`: ``?alt=sse`` chunks to and from canonical stream events;
* :mod:`.errors`: the ``{"error":{code,message,status,details}}`` envelope;
* :mod:`.embeddings`: ``embedContent`` / ``batchEmbedContents``.

Gemini accepts camelCase and snake_case keys (the google-genai SDK itself mixes them), so every
decoder here reads both; every encoder writes camelCase.
"""
