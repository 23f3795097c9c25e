"""The account API's chat stream (``/v2/llm/chat/completions/stream``): OpenAI-shaped requests,
answers as ``start``, ``delta``, then ``done`` or ``error`` events."""
