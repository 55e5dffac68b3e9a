-- ae9946b9-66e6-57cc-9c38-8b6117c67988 low Hugging Face organization member removed
-- A member was removed from the organization (an attacker locking out administrators, or normal
-- offboarding).
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.remove_user'
ORDER BY eventTime, eventID
