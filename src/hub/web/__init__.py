"""The hub web pages: trace, review, desk and line pages, their one template environment."""
