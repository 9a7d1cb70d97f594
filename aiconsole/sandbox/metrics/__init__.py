"""Metrics of what the sandbox gateway actually served: a store, Prometheus and Azure Monitor views."""
