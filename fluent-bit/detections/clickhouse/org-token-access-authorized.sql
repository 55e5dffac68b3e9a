-- 9561fa17-a2b8-5b65-b392-a26c752a5e8f low Hugging Face token granted access to the organization
-- An administrator authorized a member's access token for the organization (token approval flow).
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.token_approval.authorization_request.authorized'
ORDER BY eventTime, eventID
