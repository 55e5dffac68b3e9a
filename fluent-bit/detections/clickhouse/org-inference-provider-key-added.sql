-- 91aecc3b-3294-575d-a58c-593892f4cf21 medium Hugging Face inference provider key added
-- An inference-provider API key was added to the organization: requests are billed to that key, and
-- whoever holds it sees the traffic.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.settings.inference_providers.keys.add'
ORDER BY eventTime, eventID
