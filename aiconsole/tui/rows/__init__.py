"""Pure row renderers: domain objects → ``Row`` cells, glyphs and state styles.

Kept apart from screens (k9s' renderers) so that they can run in worker threads — sanitising
100,000 display names is work the UI loop should not do — and be unit-tested without Textual.
"""
