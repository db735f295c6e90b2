"""Gymnasium environments of graphics and animation problems whose losses have zero or undefined gradients.

Every environment is registered here under the ``zg`` namespace with a string entry point, so importing
this package is cheap and ``gymnasium.make("zg_envs:zg/ShadowCaster-v0")`` works without an explicit
import. Each environment lives in its own versioned module; its class docstring is its manual.

Only CharacterLocomotion registers a time limit (``max_episode_steps=1000``): the other envs end their episodes
themselves after a number of steps that depends on their arguments (``n_casters``, ``generations``, ...), which a
registration cannot know. Every env states it as ``env.unwrapped.horizon`` (``None`` where the env has no limit
of its own), so a trainer reads it from the env instead of repeating it in a config.
"""

from gymnasium.envs.registration import register

# --- rendering: visibility -------------------------------------------------------------------------
register(
    id="zg/ShadowCaster-v0",
    entry_point="zg_envs.shadow_caster_v0:ShadowCasterEnv",
)

register(
    id="zg/ShadowArt-v0",
    entry_point="zg_envs.shadow_art_v0:ShadowArtEnv",
)

# --- procedural modelling: discrete choices --------------------------------------------------------
register(
    id="zg/TreeGrowth-v0",
    entry_point="zg_envs.tree_growth_v0:TreeGrowthEnv",
)

# --- physics-driven animation: contacts ------------------------------------------------------------
register(
    id="zg/CharacterMimic-v0",
    entry_point="zg_envs.bullet.character_mimic_v0:CharacterMimicEnv",
)

register(
    id="zg/CharacterMimicOpenLoop-v0",
    entry_point="zg_envs.bullet.character_mimic_open_loop_v0:CharacterMimicOpenLoopEnv",
)

register(
    id="zg/CharacterLocomotion-v0",
    entry_point="zg_envs.bullet.character_locomotion_v0:CharacterLocomotionEnv",
    max_episode_steps=1000,
)

#: Every environment id this package registers, in the order the docs and benchmarks list them.
ENV_IDS = (
    "zg/ShadowCaster-v0",
    "zg/ShadowArt-v0",
    "zg/TreeGrowth-v0",
    "zg/CharacterMimic-v0",
    "zg/CharacterMimicOpenLoop-v0",
    "zg/CharacterLocomotion-v0",
)

__all__ = ["ENV_IDS"]
