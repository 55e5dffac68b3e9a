-- f7528bf8-a151-54c0-a749-f64cad16b1d6 informational Hugging Face OAuth token issued
-- An OAuth application obtained a token for the organization (the app is in tags oauth.clientId and
-- oauth.name).
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'oauth.token'
ORDER BY eventTime, eventID
