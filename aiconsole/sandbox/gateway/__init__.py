"""The sandbox gateway: an APIM-like data plane that evaluates stored policies.

Split into small pieces so each can be tested alone: ``lexer``/``conditions``/``expressions``
read the policy-expression subset; ``policy_model`` compiles policy XML into steps; ``chain``
merges scopes and caches by ETag; ``counters`` keep token and call windows; ``engine`` decides
admission and accounting; ``synthetic`` is the model; ``app`` is the HTTP surface.
"""
