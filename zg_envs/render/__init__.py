"""Pure renderers: scene arrays in, image out. No environment state, no Gymnasium."""
