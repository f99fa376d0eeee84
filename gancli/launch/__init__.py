"""How a command is launched on a machine: the ranks torchrun starts (`torchrun`), the device
each run or sweep job takes (`devices`, `jobs`), and the summary at a sweep's end
(`sweep_summary`). Free of Hydra's state: commands read that (`gancli.commands.hydra_seam`) and
pass the values in."""
