-- da19ec25-3db6-5801-841b-d07023d15f59 low Hugging Face service account token updated
-- A token of a service account was updated (its role or scope may have widened).
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.service_account.token.update'
ORDER BY eventTime, eventID
