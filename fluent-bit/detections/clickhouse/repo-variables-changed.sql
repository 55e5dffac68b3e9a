-- 1e77e980-af77-58df-a1ca-e88f2803e606 low Hugging Face repository variables changed
-- Variables of a repository were added, changed or removed (they configure a Space's running app).
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName IN ('repo.add_variable', 'repo.add_variables', 'repo.update_variable', 'repo.remove_variable', 'repo.remove_variables')
ORDER BY eventTime, eventID
