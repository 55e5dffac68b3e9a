-- aaea28c4-1726-5dd2-bb9c-9bae0bca7b3a low Hugging Face inference provider settings changed
-- The organization's inference providers, their usage policy, or a provider key was removed.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName IN ('org.settings.inference_providers', 'org.settings.inference_providers.usage', 'org.settings.inference_providers.keys.remove')
ORDER BY eventTime, eventID
