"""Connections Bastion opens to other services, each kind with one owner per process.

* :mod:`bastion.outbound.http`: the pooled HTTP/1.1 client (keep-alive per origin, TLS with
  certificate verification and SNI) that calls providers, billing sinks and JWKS URLs;
* :mod:`bastion.outbound.resp`: the pipelined Redis client every Redis user sends commands on;
* :mod:`bastion.outbound.pubsub`: the one pub/sub connection every subscriber shares;
* :mod:`bastion.outbound.clients`: the bundle the composition root creates once, injects, and
  closes last.
"""
