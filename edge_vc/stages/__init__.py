"""Voice stages: turn base-voice audio into the enrolled speaker's voice, chunk by chunk.

``registry`` maps each stage kind to how it is built; ``base`` holds the interface.
"""
