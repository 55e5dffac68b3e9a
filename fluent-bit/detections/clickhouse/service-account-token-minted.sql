-- 2ca203f9-d8c7-597d-a6e8-38d3b7086206 medium Hugging Face service account token created or rotated
-- A token of a service account was created or rotated: a new long-lived credential exists.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName IN ('org.service_account.token.create', 'org.service_account.token.rotate')
ORDER BY eventTime, eventID
