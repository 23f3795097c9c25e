"""The Anthropic Messages wire protocol (``/v1/messages``) and its mapping to the canonical form.

``request`` decodes client bodies and encodes bodies for Anthropic upstreams; ``response`` does the
same for whole answers; ``stream`` turns SSE events into canonical stream events and back;
``errors`` renders the Anthropic error envelope; ``count_tokens`` estimates prompt size locally.
"""
