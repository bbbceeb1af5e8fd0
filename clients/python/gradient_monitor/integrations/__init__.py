"""Callbacks for training frameworks; each module imports its framework only when its callback is used."""
