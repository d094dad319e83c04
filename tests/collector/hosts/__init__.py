"""The collector on several hosts of one machine (network namespaces, stack.netns)."""
