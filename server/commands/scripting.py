"""Scripting: EVAL, EVALSHA, SCRIPT, FUNCTION, FCALL (Lua 5.1 via lupa)."""
