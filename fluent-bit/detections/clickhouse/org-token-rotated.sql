-- f9c29738-2649-5e99-862d-aa17bb48f143 medium Hugging Face organization API token rotated
-- The organization's API token was rotated: the new token is a credential with the organization's
-- rights.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.rotate_token'
ORDER BY eventTime, eventID
