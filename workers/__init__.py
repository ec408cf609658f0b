"""Celery adapters: the app, its beat schedule, and thin tasks that call one domain function each."""
