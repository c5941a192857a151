"""VK: communities (Bots Long Poll) and user accounts through vkbottle, paced per token, batched with execute."""
