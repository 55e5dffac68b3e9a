-- 57b7a02f-1a1e-5952-9677-1473cb2468b4 medium Hugging Face service account created
-- A service account (a non-human identity of the organization) was created.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.service_account.create'
ORDER BY eventTime, eventID
